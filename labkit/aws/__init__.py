"""Small SDK helpers every lesson shares: error codes, queues, buckets, Lambda, waits with progress.

They wrap plain ``boto3`` clients (the ones ``labkit.connect()`` pointed at the backend) and never
hide what a lesson teaches: they read, wait, draw data out and tidy up.
"""
