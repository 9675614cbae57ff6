"""The Target dock: `panel` composes the header, one page per tab (presets, draw, gaussians, import, images) and the
message line; every target edit is a `command.TargetCommand` on the shared undo stack; `previews` draws the pictures."""
