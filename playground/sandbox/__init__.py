"""The sandbox's stand-ins for the SMS providers: stateful fakes of their HTTP APIs and an in-memory Provider.

* ``gotsms.FakeGotSms``, ``getatext.FakeGetAText``: aiohttp servers that answer like GotSMS and GetAText (on a
  free 127.0.0.1 port), with failure modes and, for the playground, codes that arrive by themselves;
* ``memory.MemoryProvider``: the Provider interface with no HTTP at all, for flow tests;
* ``base.FakeServer``: what the two fake servers share.
"""
