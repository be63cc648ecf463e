"""The plug-in runtime: what runs a plug-in, in its own process or in a test host.

Private to the SDK and the server (not part of the plug-in API): the RPC protocol between
the server and a plug-in's runner process, the runner itself, its sandbox, and the shared
memory that carries video frames.
"""
