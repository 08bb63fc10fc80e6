"""The tables of the areas a command rarely needs, mapped on first use: `from sigma.db.models
import X` finds them (sigma.db.models.__getattr__), and so does `Base` (with every table).
Import them from sigma.db.models, not from here."""
