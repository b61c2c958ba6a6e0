"""`videoctl serve`: a read-only web page over the videos and jobs, a presentation layer like
videoctl/commands: its pages call only :class:`videoctl.api.Client`.

- app.py: the routes, and the one place a request's error becomes an error page;
- pages.py: what each page shows; media.py: the store's objects to a browser (HTTP ranges,
  content types, presigned R2 URLs); auth.py: who may look (the token gate, one-time links and
  sessions; without a token, loopback Host names only); pool.py: Clients across threads;
- server.py: uvicorn on a socket bound before it starts;
- templates/ (Jinja2) and static/ (CSS, a little plain JS, the vendored players): no build step.
"""
