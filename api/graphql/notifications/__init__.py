"""The inbox, push devices and live earnings updates."""
