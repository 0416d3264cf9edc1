"""Identity, deleted last: IAM users (with their access keys), roles (with their policy attachments
and inline policies), then the managed policies."""

from __future__ import annotations

import botocore.exceptions

from labkit.ops.run import Found, Run, code_of, paginate, tags_of


def iam_users(run: Run) -> list[Found]:
    iam = run.client("iam")
    out = []
    for user in paginate(iam, "list_users", "Users"):
        name = user["UserName"]
        lesson = run.wanted(tags_of(paginate(iam, "list_user_tags", "Tags", UserName=name)))
        if lesson is None:
            continue

        def delete(n=name) -> str:
            keys = paginate(iam, "list_access_keys", "AccessKeyMetadata", UserName=n)
            for key in keys:
                iam.delete_access_key(UserName=n, AccessKeyId=key["AccessKeyId"])
            for p in paginate(iam, "list_attached_user_policies", "AttachedPolicies", UserName=n):
                iam.detach_user_policy(UserName=n, PolicyArn=p["PolicyArn"])
            for p in paginate(iam, "list_user_policies", "PolicyNames", UserName=n):
                iam.delete_user_policy(UserName=n, PolicyName=p)
            for g in paginate(iam, "list_groups_for_user", "Groups", UserName=n):
                iam.remove_user_from_group(GroupName=g["GroupName"], UserName=n)
            try:
                iam.delete_login_profile(UserName=n)
            except botocore.exceptions.ClientError as err:
                if code_of(err) != "NoSuchEntity":
                    raise
            iam.delete_user(UserName=n)
            return f"with its {len(keys)} access key(s) and policies"

        out.append(Found("iam user", name, lesson, delete))
    return out


def iam_roles(run: Run) -> list[Found]:
    iam = run.client("iam")
    out = []
    for role in paginate(iam, "list_roles", "Roles"):
        if role.get("Path", "/").startswith("/aws-service-role/"):
            continue
        name = role["RoleName"]
        lesson = run.wanted(tags_of(paginate(iam, "list_role_tags", "Tags", RoleName=name)))
        if lesson is None:
            continue

        def delete(n=name) -> str:
            attached = paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=n)
            for p in attached:
                iam.detach_role_policy(RoleName=n, PolicyArn=p["PolicyArn"])
            inline = paginate(iam, "list_role_policies", "PolicyNames", RoleName=n)
            for p in inline:
                iam.delete_role_policy(RoleName=n, PolicyName=p)
            for profile in paginate(iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=n):
                iam.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"], RoleName=n)
                found = iam.get_instance_profile(InstanceProfileName=profile["InstanceProfileName"])["InstanceProfile"]
                if run.wanted(tags_of(found.get("Tags"))) is not None:  # the lesson's own profile (07)
                    iam.delete_instance_profile(InstanceProfileName=profile["InstanceProfileName"])
            iam.delete_role(RoleName=n)
            return (
                f"{len(attached)} policy attachment(s), {len(inline)} inline polic(ies) first"
                if attached or inline
                else ""
            )

        out.append(Found("iam role", name, lesson, delete))
    return out


def iam_policies(run: Run) -> list[Found]:
    iam = run.client("iam")
    out = []
    for policy in paginate(iam, "list_policies", "Policies", Scope="Local"):
        arn = policy["Arn"]
        lesson = run.wanted(tags_of(paginate(iam, "list_policy_tags", "Tags", PolicyArn=arn)))
        if lesson is None:
            continue

        def delete(a=arn) -> None:
            page = iam.list_entities_for_policy(PolicyArn=a)
            for r in page.get("PolicyRoles", []):
                iam.detach_role_policy(RoleName=r["RoleName"], PolicyArn=a)
            for u in page.get("PolicyUsers", []):
                iam.detach_user_policy(UserName=u["UserName"], PolicyArn=a)
            for g in page.get("PolicyGroups", []):
                iam.detach_group_policy(GroupName=g["GroupName"], PolicyArn=a)
            for v in iam.list_policy_versions(PolicyArn=a)["Versions"]:
                if not v["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=a, VersionId=v["VersionId"])
            iam.delete_policy(PolicyArn=a)

        out.append(Found("iam policy", policy["PolicyName"], lesson, delete))
    return out
