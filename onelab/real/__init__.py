"""The real tier of the lab: OpenNebula built from source, packaged, installed and run on
the nodes."""
