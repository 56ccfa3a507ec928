"""帮办代办: staff with the helper role submit or supplement applications for residents who authorised them.

An authorisation names one resident, one helper, its scope (services, actions) and its expiry; the resident grants
it through the API, or the helper records an on-site one with the resident's signature. Every act on someone's
behalf checks an authorisation in force at that moment and is recorded with both people.
"""
