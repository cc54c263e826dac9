"""The station: photos sorted as they land in watched folders, complete phones delivered to other systems."""
