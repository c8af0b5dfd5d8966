"""HiGHS: options, statuses, the transfer of the model and the solve."""
