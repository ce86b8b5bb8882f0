"""What a run records of each item: typed records with one JSON form (``item.py``), how they are made
(``build.py``), carried on pytest's reports (``properties.py``), spooled on the controller
(``spool.py``), and the report file they end in (``report_file.py``: its one layout, written by
``report/json_report.py``, read back here)."""
