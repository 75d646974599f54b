from auditor.entry import run

run()
