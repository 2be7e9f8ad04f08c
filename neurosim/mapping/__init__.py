"""Placement of a model on a many-core chip: which cores hold which weight shard and where each
op runs (:mod:`placement`: frozen data, written to the results), and the mapper that decides it
(:mod:`mapper`). The engine replays a placement; it never decides one."""
