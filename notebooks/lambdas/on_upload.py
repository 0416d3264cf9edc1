"""Lesson 03's trigger: runs when an object lands under uploads/, writes a receipt under receipts/."""

import json
import urllib.parse

import boto3

# Created once per execution environment. It finds its endpoint, region and credentials in the
# environment the Lambda runtime gives the function, exactly as on AWS.
s3 = boto3.client("s3")


def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace")
        receipt = {"source": key, "words": len(text.split()), "event": record["eventName"]}
        # Write outside uploads/: a receipt under uploads/ would trigger this function again, forever.
        s3.put_object(Bucket=bucket, Key="receipts/" + key.split("/", 1)[-1] + ".json", Body=json.dumps(receipt))
        print(f"receipt for {key}: {receipt['words']} words")
    return {"processed": len(event["Records"])}
