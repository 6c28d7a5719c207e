"""One module per sensor. Each driver takes its bus or pin in the constructor and
has read(), which returns values in payload units or raises OSError. fitted.py
builds the drivers a node's config fits and reads them into one report sample."""
