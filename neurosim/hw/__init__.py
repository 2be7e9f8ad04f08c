"""Hardware components: each counts its own named actions and knows its own timing. Costs
(pJ) are applied later by :mod:`neurosim.energy`."""
