"""Designs the DRE units are measured against; built for their cost, not for use."""
