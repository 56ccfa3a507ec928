"""一人一档 and 电子证照: a resident's materials kept once, electronic results issued on approval."""
