"""Pure-Python BMS core: data types, protection, FET control, balancing and state estimation.

Nothing here imports ROS: the same code runs in the node, in bms-replay and in unit tests.
"""
