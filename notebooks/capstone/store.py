"""Apply one order event to the orders table, once, and never an older one over a newer one."""


def store(dynamodb, table, order):
    """True if this event changed the order; False for a duplicate or an event older than what is stored."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"order_id": {"S": order["order_id"]}},
            UpdateExpression=(
                "SET customer = :customer, seq = :seq, order_status = :status, "
                "history = list_append(if_not_exists(history, :empty), :step) ADD applied :one"
            ),
            ConditionExpression="attribute_not_exists(seq) OR seq < :seq",
            ExpressionAttributeValues={
                ":customer": {"S": order["customer"]},
                ":seq": {"N": str(order["seq"])},
                ":status": {"S": order["status"]},
                ":empty": {"L": []},
                ":step": {"L": [{"N": str(order["seq"])}]},
                ":one": {"N": "1"},
            },
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False
    return True
