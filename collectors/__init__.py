"""What is polled: one module per kind of thing read from devices.

Step: scheduler -> **collectors** -> samples. Collectors depend on netmon's
model and SNMP session only, never on alerts/.
"""
