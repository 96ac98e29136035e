"""Plain NumPy / Python transcriptions of the papers' pseudo-code, used as test referees.

They are written per weight with Python loops and ``if`` statements, line by line from the papers,
and share no code with ``fnnet``.
"""
