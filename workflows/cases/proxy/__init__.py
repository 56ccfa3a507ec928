"""帮办代办: staff with the helper role submit or supplement applications for residents who authorised them.

An authorisation names one resident, one helper, its scope (services, actions) and its expiry; the resident grants
it through the API, or the helper records an on-site one with the resident's signature — pending until the
resident confirms it on their phone or a lead of the helper's department approves it on site. Every act on
someone's behalf, and every read, checks an active authorisation in force at that moment and is recorded with both
people; the resident is told of each. `service.py` keeps the authorisations, `acting.py` the acts and reads.
"""
