"""The relief service — one-click hardship applications (一键报难) and joint review.

Who acts (decided here, used by every check):
- Residents apply for themselves (verified accounts only); grid workers (and admins) apply on
  a resident's behalf with ``applicant_user_id``; both people are recorded.
- Reviewers are ``Role.REVIEWER`` staff whose access token carries their agency in the
  ``ext.agency`` claim (``make_token(extra={"agency": ...})``): ``town`` accepts or rejects
  at intake; ``ping_an_office`` (平安办), ``civil_affairs`` (民政局) and ``agriculture``
  (农业农村局) give the joint-review opinions; ``civil_affairs`` also resolves objections,
  approves, rejects at approval and posts payments. Every action also needs the reviewer's
  regions to cover the applicant's region. (A claim rather than department ids: the three
  agencies exist in every county, while department ids differ per county and belong to
  routing's org directory.)

Where the data comes from: identity's internal profile API at apply time
(``identity_client.py``), nothing from the bus (the profile holds PII the bus never carries).

Endpoints (``/api/v1/relief``): ``POST/GET /applications``, ``GET /applications/{id}``,
``/timeline``, ``POST .../accept``, ``.../reject``, ``.../reviews``, ``.../objections``,
``.../objections/{oid}/resolution``, ``.../approve``, ``.../withdraw``, ``GET .../decision``
(the applicant's reasons, audited), ``POST .../pii-access`` (audited reveal),
``GET /pii-access-log``, ``GET /notices?region_code=`` (the running public notice),
``POST /disbursements``, ``POST /disbursements/monthly-runs``,
``GET /disbursements/totals?region_code=&from=&to=``.

The lifecycle and its decisions (minors, notice length, deadlines) are in ``domain``.
"""
