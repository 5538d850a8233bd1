"""Certificates: reading them (certs), offline path verification to a set of anchors (pathverify), and the anchor
sets a run judges chains against (truststore: the profile's expected roots, the public web PKI, this host's
store)."""
