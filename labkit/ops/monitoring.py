"""Lambda functions with their event source mappings and ``/aws/lambda/<name>`` log groups;
CloudWatch alarms, dashboards and log groups."""

from __future__ import annotations

from labkit.ops.run import Found, Run, paginate, tagged_by_api_or_listing, tags_of


def alarms(run: Run) -> list[Found]:
    cw = run.client("cloudwatch")

    def listing():
        for alarm in paginate(cw, "describe_alarms", "MetricAlarms"):
            yield alarm["AlarmName"], tags_of(cw.list_tags_for_resource(ResourceARN=alarm["AlarmArn"]).get("Tags"))

    return [
        Found("cloudwatch alarm", name, lesson, lambda n=name: cw.delete_alarms(AlarmNames=[n]) and None)
        for name, lesson in tagged_by_api_or_listing(run, "cloudwatch alarm", listing)
    ]


def dashboards(run: Run) -> list[Found]:
    cw = run.client("cloudwatch")
    out = []
    for board in paginate(cw, "list_dashboards", "DashboardEntries"):
        name = board["DashboardName"]
        arn = board["DashboardArn"]
        lesson, _ = run.tags_or_name(
            "cloudwatch dashboard", name, lambda a=arn: tags_of(cw.list_tags_for_resource(ResourceARN=a).get("Tags"))
        )
        if lesson is not None:
            out.append(
                Found(
                    "cloudwatch dashboard",
                    name,
                    lesson,
                    lambda n=name: cw.delete_dashboards(DashboardNames=[n]) and None,
                )
            )
    return out


def functions(run: Run) -> list[Found]:
    fn = run.client("lambda")

    def listing():
        for f in paginate(fn, "list_functions", "Functions"):
            yield f["FunctionName"], tags_of(fn.list_tags(Resource=f["FunctionArn"]).get("Tags"))

    return [
        Found("lambda function", name, lesson, lambda n=name: fn.delete_function(FunctionName=n) and None)
        for name, lesson in tagged_by_api_or_listing(run, "lambda function", listing)
    ]


def event_source_mappings(run: Run) -> list[Found]:
    """The mappings of the tagged functions (found here, deleted in their own later step)."""
    fn = run.client("lambda")
    out = []
    for f in run.find("lambda function", functions):
        for m in paginate(fn, "list_event_source_mappings", "EventSourceMappings", FunctionName=f.name):
            out.append(
                Found(
                    "event source mapping",
                    m["UUID"],
                    f.lesson,
                    lambda u=m["UUID"]: fn.delete_event_source_mapping(UUID=u) and None,
                    detail=f"of function {f.name}",
                )
            )
    return out


def log_groups(run: Run) -> list[Found]:
    """Tagged log groups, and the ``/aws/lambda/<name>`` groups Lambda made (untagged) for tagged functions."""
    logs = run.client("logs")
    also = [(f"/aws/lambda/{f.name}", (f.name, f.lesson)) for f in run.find("lambda function", functions)]

    def listing():
        for group in paginate(logs, "describe_log_groups", "logGroups"):
            name = group["logGroupName"]
            yield name, tags_of(logs.list_tags_log_group(logGroupName=name).get("tags"))

    found = dict(tagged_by_api_or_listing(run, "log group", listing))
    details = dict.fromkeys(found, "")
    for name, function in also:
        if name in found:
            continue
        if any(g["logGroupName"] == name for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]):
            found[name], details[name] = function[1], f"logs of function {function[0]}"
    return [
        Found(
            "log group",
            name,
            lesson,
            lambda n=name: logs.delete_log_group(logGroupName=n) and None,
            detail=details[name],
        )
        for name, lesson in found.items()
    ]
