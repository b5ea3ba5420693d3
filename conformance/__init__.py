"""The conformance suite on top of ``core`` and ``deploy``: inventory, checks, the pytest plugin.

Modules: ``inventory`` (collected once per environment), ``checks`` (metadata registry),
``probes`` and ``prefetch`` (bounded data-plane probes), ``evidence`` (redacted attachments),
``settings`` (what a run points at), ``state`` (the run state and the typed stash keys every
process reads), ``metrics`` (the run's API-call and timing files), ``plugin`` (options, fixtures,
parametrisation: every process), ``controller`` (the controller process only: deploy or attach,
collect, tear down), ``reporting`` (Allure labels and redacted reports), ``scheduling`` (xdist).
"""

__version__ = "0.1.0"
