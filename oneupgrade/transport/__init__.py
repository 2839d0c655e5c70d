"""The transport: SSH to the nodes (paramiko), the operator's ssh_config, gateways, sudo."""
