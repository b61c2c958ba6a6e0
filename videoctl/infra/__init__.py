"""The infra wing: infra/json as the truth, a pure plan, then apply.

The plan is made apart from the calls that read and change AWS: ``verify`` shows exactly what
``setup`` would do.

Pure (no boto3, no file or network IO; unit-tested on plain data):

- :mod:`model`: desired resources, diffs, actions, plan items, the apply report
- :mod:`placeholders` / :mod:`documents`: fill ``${PLACEHOLDERS}`` from settings and
  turn the documents into desired resources (reading them is passed in)
- :mod:`validation` and :mod:`least_privilege`: our checks, before any AWS call
- :mod:`compare` / :mod:`planner`: what differs, and the calls that would fix it
- :mod:`errors`: errors that carry the plan or the report

IO:

- :mod:`files`: read infra/json from disk; :mod:`package`: the delete-r2 Lambda zip
- :mod:`live`: read what AWS has; :mod:`apply`: make the plan's calls
- :mod:`service`: the use cases the ``videoctl infra`` commands call
"""
