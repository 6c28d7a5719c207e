"""One module per sensor. Each driver takes its bus or pin in the constructor and
has read(), which returns values in payload units or raises OSError."""
