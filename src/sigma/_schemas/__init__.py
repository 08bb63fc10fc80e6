"""The schemas of the areas a command rarely needs, built on first use: `from sigma.schemas
import X` finds them (sigma.schemas.__getattr__). Import them from sigma.schemas, not from here."""
