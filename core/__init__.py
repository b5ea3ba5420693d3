"""The ground both the deployer (``deploy``) and the suite (``conformance``) stand on; imports neither.

Modules: ``errors`` (exception hierarchy and exit codes), ``spec`` (validated environment
specifications), ``aws`` (sessions, shared clients, the call log), ``redaction`` (no secret
written anywhere), ``outputs`` (the stack's typed outputs), ``template`` (the template and its
version), ``lock`` (one deploying run per stack), ``runid`` (the id of a run).
"""
