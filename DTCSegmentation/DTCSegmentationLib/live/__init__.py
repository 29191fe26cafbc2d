"""Live segmentation: ``worker`` (the newest-frame inference thread), ``igtl_images`` (OpenIGTLink
IMAGE messages to frames and masks back) and ``igtl_bridge`` (the connections of ``dtc live``).
"""
