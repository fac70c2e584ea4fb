"""FPGA bring-up: the UART bridge, the board top levels and their builds."""
