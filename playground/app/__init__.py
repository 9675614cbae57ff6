"""The Qt GUI. Calls playground.core; core never imports this package."""
