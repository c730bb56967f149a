"""The runtime: what runs on AWS (the FIFO worker, the fan-out consumers, the order model, the shared names and the Ansible role that installs them). It never imports the local simulation."""
