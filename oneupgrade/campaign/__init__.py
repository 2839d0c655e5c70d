"""Who may change the cluster, and where the campaign's journal lives: the controller's
run lock, the lock held on the front-ends, the journal's copies on the cluster."""
