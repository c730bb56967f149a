"""Lambda (AWS only): the consumers' functions and their dependency layer (run locally as processes)."""

from __future__ import annotations

from offline.provision.base import PARTITION, Outputs, ResourceType, arn


def function_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    function_arn = arn("lambda", region, f"function:{name}", account=account)
    return name, {
        "arn": function_arn,
        "qualifiedArn": f"{function_arn}:$LATEST",
        "invokeArn": f"arn:{PARTITION}:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations",
        "version": "$LATEST",
    }


def layer_outputs(name: str, region: str, inputs: Outputs, account: str) -> tuple[str, Outputs]:
    layer_arn = arn("lambda", region, f"layer:{inputs.get('layerName') or name}", account=account)
    return f"{layer_arn}:1", {"arn": f"{layer_arn}:1", "layerArn": layer_arn, "version": "1"}


TYPES = (
    ResourceType("aws:lambda/function:Function", outputs=function_outputs),
    ResourceType("aws:lambda/layerVersion:LayerVersion", outputs=layer_outputs),
)
