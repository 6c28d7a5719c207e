"""The one exception the codec raises."""


class CodecError(ValueError):
    """Malformed input to the codec: says what is wrong and where.

    Every decoder and encoder turns its failures into this one type, so that a
    caller handling radio bytes needs a single ``except CodecError``.
    """
