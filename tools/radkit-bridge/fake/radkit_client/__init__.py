"""A fake of the few parts of Cisco's radkit_client that the reference bridge uses.

For tests only (tools/radkit-bridge/test_bridge.py and adapters/radkit's Go test): put
tools/radkit-bridge/fake on PYTHONPATH. It implements radkit_client.sync.Client.create(),
certificate_login(...), service(serial).wait(), service.inventory (name -> device) and
device.exec(commands, timeout=...).wait(...).result[command] with .status, .data and
.status_message, over a small canned inventory.
"""
