"""The whole pipeline as supervised local processes (`auditpipe run all`, `auditpipe demo`).

- :mod:`~pipeline.runall.supervisor`: start, kill, restart, wait for readiness and stop in
  order each stage, every one an ``auditpipe run <stage>`` child process with its own log.
- :mod:`~pipeline.runall.plan`: which stages, with which arguments, ports and start/stop order.
- :mod:`~pipeline.runall.receiver`: the local signed-webhook receiver the router delivers to.
"""
