"""Infra as plan → apply: documents in infra/json, a pure planner, an executor (chalice's split).

- :mod:`documents` / :mod:`placeholders`: read infra/json and fill ``${PLACEHOLDERS}`` from settings
- :mod:`validation`: our checks, before any AWS call
- :mod:`live`: read what AWS has; :mod:`planner`: compare (pure); :mod:`executor`: apply
- :mod:`package`: the delete-r2 Lambda zip
- :mod:`service`: the use cases the ``videoctl infra`` commands call
"""
