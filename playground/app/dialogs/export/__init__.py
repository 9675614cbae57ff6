"""File > Export, one module per kind of export; the dialog shell is `playground.app.dialogs.export_dialog`.

    items              the table of what can be exported, its formats and file names (Qt-free)
    samples            samples and trajectories -> CSV / NPY
    pictures           a panel or the window -> PNG / SVG; the scene rendering animations use
    animation          animation frames rendered on the UI thread, then encoded in a worker thread
    animation_options  the dialog's Animation box: fps, duration, size
    model_export       the trained network -> ONNX / torch.export, in a worker thread
"""
