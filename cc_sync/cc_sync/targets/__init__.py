"""Push targets: one module per DocType whose records cc_sync pushes to Constant Contact."""
