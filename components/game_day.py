"""The Spot game day: an AWS FIS experiment template that sends Spot interruption notices to the workers.

Opt-in (`orders:spotGameDay`). Starting the experiment (`aws fis start-experiment --experiment-template-id
<gameDayTemplateId>`) gives a share of the worker group's running Spot instances the two-minute notice
EC2 gives before it reclaims capacity, so the drain (IMDS watch -> stop receiving -> finish in-flight
groups -> lifecycle hook) is exercised at scale during a load test. The experiment stops by itself when
the order DLQ alarm fires: orders reaching the DLQ during a drill mean the drain is losing work.
Runbook: docs/game-day.md.

The role grants what the FIS actions reference lists for `aws:ec2:send-spot-instance-interruptions`
(https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html):
`ec2:SendSpotInstanceInterruptions` on instances, here only those of this account and region that carry
the worker group's tag, and `ec2:DescribeInstances` (which takes no resource scoping) to resolve targets.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws_context import AwsContext
from components.iam import policy_document, role_with_policy, statement

ACTION_ID = "aws:ec2:send-spot-instance-interruptions"
NOTICE = "PT2M"
"""`durationBeforeInterruption`: the two minutes EC2 gives a Spot instance before it reclaims it."""
GROUP_TAG = "aws:autoscaling:groupName"
"""The tag Auto Scaling puts on every instance it launches; the target selects the workers by it."""


@dataclass(frozen=True, kw_only=True)
class GameDayArgs:
    ctx: AwsContext
    asg_name: str
    stop_alarm_arn: pulumi.Input[str]
    """The order DLQ alarm: the experiment stops when it is in ALARM."""
    percent: int = 20
    """Share of the group's running Spot instances that get a notice, 1-100."""


def interruption_policy(instance_arns: str, asg_name: str) -> str:
    """The FIS role's policy: interrupt only instances tagged with the worker group, and resolve targets."""
    return policy_document(
        [
            statement(
                "InterruptOnlyTheWorkerGroup",
                ["ec2:SendSpotInstanceInterruptions"],
                [instance_arns],
                Condition={"StringEquals": {f"aws:ResourceTag/{GROUP_TAG}": asg_name}},
            ),
            statement("ResolveTargets", ["ec2:DescribeInstances"], ["*"]),
        ]
    )


def interrupt_action() -> aws.fis.ExperimentTemplateActionArgs:
    """The two-minute Spot interruption notice, sent to the `workers` target."""
    return aws.fis.ExperimentTemplateActionArgs(
        name="interrupt-workers",
        action_id=ACTION_ID,
        parameters=[aws.fis.ExperimentTemplateActionParameterArgs(key="durationBeforeInterruption", value=NOTICE)],
        target=aws.fis.ExperimentTemplateActionTargetArgs(key="SpotInstances", value="workers"),
    )


def worker_target(asg_name: str, percent: int) -> aws.fis.ExperimentTemplateTargetArgs:
    """`percent`% of the group's running Spot instances, selected by the tag Auto Scaling puts on them."""
    return aws.fis.ExperimentTemplateTargetArgs(
        name="workers",
        resource_type="aws:ec2:spot-instance",
        selection_mode=f"PERCENT({percent})",
        resource_tags=[aws.fis.ExperimentTemplateTargetResourceTagArgs(key=GROUP_TAG, value=asg_name)],
        filters=[aws.fis.ExperimentTemplateTargetFilterArgs(path="State.Name", values=["running"])],
    )


class GameDay(pulumi.ComponentResource):
    template_id: pulumi.Output[str]

    def __init__(self, name: str, args: GameDayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("orders:resilience:GameDay", name, None, opts)
        if not 1 <= args.percent <= 100:
            raise ValueError(f"game day percent must be 1-100, got {args.percent}")
        self.role = self._role(name, args)
        self.template = aws.fis.ExperimentTemplate(
            name,
            description=f"Spot game day: 2-minute interruption notice to {args.percent}% of {args.asg_name}",
            role_arn=self.role.arn,
            actions=[interrupt_action()],
            targets=[worker_target(args.asg_name, args.percent)],
            stop_conditions=[
                aws.fis.ExperimentTemplateStopConditionArgs(source="aws:cloudwatch:alarm", value=args.stop_alarm_arn)
            ],
            opts=args.ctx.opts(self),
        )
        self.template_id = self.template.id
        self.register_outputs({"templateId": self.template_id})

    def _role(self, name: str, args: GameDayArgs) -> aws.iam.Role:
        """The role FIS assumes to run the experiment, with `interruption_policy` inline."""
        ctx = args.ctx
        return role_with_policy(
            f"{name}-fis",
            ctx,
            self,
            role_name=ctx.name(f"{name}-fis", kind="iam-role"),
            service="fis.amazonaws.com",
            policy=ctx.arn("ec2", "instance/*").apply(lambda arn: interruption_policy(arn, args.asg_name)),
        ).role
