"""LoRa time on air (Semtech AN1200.13, "LoRa Modem Designer's Guide", section 4).

Integer arithmetic in microseconds, so a board computes it without floats.
"""


def time_on_air_us(payload_len, sf, bw_khz=125, cr=5, preamble=8, explicit_header=True, crc=True, ldro=None):
    """Time on air of one packet, in microseconds.

    cr is 5..8 for 4/5..4/8 (as the micropython-lib driver spells it); ldro
    None switches low-data-rate optimisation on when a symbol lasts 16 ms or
    more, as LoRaWAN does (SF11 and SF12 at 125 kHz).
    """
    symbol_us = (1 << sf) * 1000 // bw_khz
    if ldro is None:
        ldro = symbol_us >= 16000
    de = 1 if ldro else 0
    ih = 0 if explicit_header else 1
    num = 8 * payload_len - 4 * sf + 28 + (16 if crc else 0) - 20 * ih
    den = 4 * (sf - 2 * de)
    blocks = max(-(-num // den), 0)  # ceiling division
    symbols = 8 + blocks * cr
    # Preamble: (preamble + 4.25) symbols, kept in quarter symbols to stay integer.
    return ((4 * preamble + 17) * symbol_us) // 4 + symbols * symbol_us
