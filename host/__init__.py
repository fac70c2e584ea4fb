"""The host side of the board link: serial and simulated links, and the DRE driver."""
