"""The CDK app: what ``infra/app.py`` synthesizes, checked resource by resource.

The main template is made as ``cdk synth -c jwtseal:bundle=false`` makes it
(app.py's stack, cdk.json's context), in process and synthesized once per
module: offline, with no AWS credentials and no Docker.
"""

from __future__ import annotations

import json
import os
import re
import runpy
from pathlib import Path
from typing import Any

import pytest

# jsii starts Node on the first import of aws_cdk; this machine's Node 20 is past
# its end of life, which jsii announces in a banner on every start.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Match, Template
from infra.jwtseal_infra.api import STAGE, problem_json
from infra.jwtseal_infra.config import PROJECT_ROOT, StackConfig
from infra.jwtseal_infra.packaging import PLATFORMS, LocalBundler, bundle_hash, lambda_code
from infra.jwtseal_infra.storage import KeyStorage

from jwtseal.http.problems import problem

INFRA = PROJECT_ROOT / "infra"
HANDLERS = {
    "generator": "jwtseal.aws.keys.handler",
    "encoder": "jwtseal.aws.encode.handler",
    "decoder": "jwtseal.aws.decode.handler",
}


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What ``cdk synth -c jwtseal:bundle=false`` makes: app.py's stack with cdk.json's context."""
    return synthesize(tmp_path_factory)


def synthesize(tmp_path_factory: pytest.TempPathFactory, **extra: Any) -> dict[str, Any]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    context = {**json.loads((INFRA / "cdk.json").read_text())["context"], "jwtseal:bundle": False, **extra}
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(INFRA))
        build = runpy.run_path(str(INFRA / "app.py"), run_name="jwtseal_app")["build"]
    app = cdk.App(outdir=str(outdir), context=context)
    stack = build(app)
    assembly = app.synth()
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    return {
        "template": artifact.template,
        "warnings": [entry.data for entry in artifact.find_metadata_by_type("aws:cdk:warning")],
        "assets": sorted(path.name for path in Path(assembly.directory).glob("asset.*")),
        "directory": Path(assembly.directory),
    }


@pytest.fixture(scope="module")
def template(synthesized: dict[str, Any]) -> Template:
    return Template.from_json(synthesized["template"])


@pytest.fixture(scope="module")
def resources(synthesized: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = synthesized["template"]["Resources"]
    return found


def one(
    template: Template, kind: str, properties: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(kind, {"Properties": properties} if properties else None)
    assert len(found) == 1, (kind, list(found))
    logical_id, resource = next(iter(found.items()))
    return logical_id, dict(resource)


def function(template: Template, role: str) -> tuple[str, dict[str, Any]]:
    return one(template, "AWS::Lambda::Function", {"Handler": HANDLERS[role]})


def role_of(template: Template, role: str) -> str:
    logical_id: str = function(template, role)[1]["Properties"]["Role"]["Fn::GetAtt"][0]
    return logical_id


def statements_of(resources: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of every inline policy attached to the role."""
    statements = []
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]:
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements


def actions_of(resources: dict[str, Any], role_id: str) -> list[tuple[str, ...]]:
    return [
        tuple(statement["Action"]) if isinstance(statement["Action"], list) else (statement["Action"],)
        for statement in statements_of(resources, role_id)
    ]


def logical_id(template: Template, kind: str) -> str:
    return one(template, kind)[0]


def test_synth_made_the_resources_of_the_design(template: Template) -> None:
    for kind, count in {
        "AWS::SecretsManager::Secret": 1,
        "AWS::S3::Bucket": 1,
        "AWS::ApiGateway::RestApi": 1,
        "AWS::ApiGateway::Method": 3,
        "Custom::JwtsealKeySet": 1,
        "AWS::Lambda::Function": 4,  # our three, and the Provider framework's
        "AWS::Events::Rule": 1,
    }.items():
        template.resource_count_is(kind, count)


def test_the_secret_starts_empty_and_is_retained(template: Template) -> None:
    _, secret = one(template, "AWS::SecretsManager::Secret")
    assert "GenerateSecretString" not in secret["Properties"]
    assert "SecretString" not in secret["Properties"]
    assert secret["DeletionPolicy"] == secret["UpdateReplacePolicy"] == "Retain"


def test_the_bucket_is_private_encrypted_and_refuses_plain_http(template: Template) -> None:
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "DeletionPolicy": "Retain",
            "Properties": {
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": True,
                    "BlockPublicPolicy": True,
                    "IgnorePublicAcls": True,
                    "RestrictPublicBuckets": True,
                },
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                    ]
                },
                "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            },
        },
    )
    _, policy = one(template, "AWS::S3::BucketPolicy")
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]  # no Allow for anyone
    assert {name: statement[name] for name in ("Action", "Condition", "Effect", "Principal")} == {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
    }


def test_the_key_custom_resource_goes_through_the_provider_with_a_version(template: Template) -> None:
    _, key_set = one(template, "Custom::JwtsealKeySet")
    assert key_set["Properties"]["Version"] == "1"
    assert key_set["Properties"]["ApiKeyHashes"] == []
    assert key_set["DeletionPolicy"] == "Delete"  # a no-op for the keys: see jwtseal.aws.keys
    token = key_set["Properties"]["ServiceToken"]["Fn::GetAtt"][0]
    framework = template.to_json()["Resources"][token]
    assert framework["Properties"]["Handler"] == "framework.onEvent"
    generator_id, _ = function(template, "generator")
    assert framework["Properties"]["Environment"]["Variables"]["USER_ON_EVENT_FUNCTION_ARN"] == {
        "Fn::GetAtt": [generator_id, "Arn"]
    }


def test_the_functions_run_python_313_on_arm64_with_one_asset(template: Template) -> None:
    keys = set()
    for role in HANDLERS:
        properties = function(template, role)[1]["Properties"]
        assert properties["Runtime"] == "python3.13"
        assert properties["Architectures"] == ["arm64"]
        assert properties["Environment"]["Variables"]["JWTSEAL_JWKS_MAX_AGE"] == "300"
        keys.add(properties["Code"]["S3Key"])
    assert len(keys) == 1


def test_every_function_has_a_role_of_its_own_and_no_managed_policy(
    template: Template, resources: dict[str, Any]
) -> None:
    roles = {role_of(template, role) for role in HANDLERS}
    assert len(roles) == 3
    for role_id in roles:
        assert "ManagedPolicyArns" not in resources[role_id]["Properties"]
        assert resources[role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}}
        ]


def test_the_encoder_may_read_the_secret_and_nothing_else(
    template: Template, resources: dict[str, Any]
) -> None:
    secret = logical_id(template, "AWS::SecretsManager::Secret")
    role_id = role_of(template, "encoder")
    statements = statements_of(resources, role_id)
    logs = function(template, "encoder")[1]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    assert statements == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [logs, "Arn"]},
        },
        {"Action": "secretsmanager:GetSecretValue", "Effect": "Allow", "Resource": {"Ref": secret}},
    ]


def test_the_generator_may_write_the_secret_and_the_jwks_object(
    template: Template, resources: dict[str, Any]
) -> None:
    secret = logical_id(template, "AWS::SecretsManager::Secret")
    bucket = logical_id(template, "AWS::S3::Bucket")
    statements = statements_of(resources, role_of(template, "generator"))
    assert statements[1:] == [
        {
            "Action": [
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            "Effect": "Allow",
            "Resource": {"Ref": secret},
        },
        {
            "Action": "s3:PutObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/jwks.json"]]},
        },
    ]
    assert statements[0]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]


def test_the_decoder_can_read_nothing_private(template: Template, resources: dict[str, Any]) -> None:
    secret = logical_id(template, "AWS::SecretsManager::Secret")
    bucket = logical_id(template, "AWS::S3::Bucket")
    role_id = role_of(template, "decoder")
    assert actions_of(resources, role_id) == [("logs:CreateLogStream", "logs:PutLogEvents")]
    everything = json.dumps(
        [
            resources[role_id],
            *[
                r
                for r in resources.values()
                if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
            ],
        ]
    )
    for forbidden in ("secretsmanager", "s3:", "kms:", secret, bucket, '"*"'):
        assert forbidden not in everything
    variables = function(template, "decoder")[1]["Properties"]["Environment"]["Variables"]
    assert set(variables) == {"JWTSEAL_ISSUER", "JWTSEAL_JWKS_MAX_AGE"}


def test_only_the_encoder_and_generator_touch_the_secret_and_only_gateway_and_generator_the_bucket(
    template: Template, resources: dict[str, Any]
) -> None:
    touching: dict[str, set[str]] = {"secretsmanager:": set(), "s3:": set()}
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        document = json.dumps(resource["Properties"]["PolicyDocument"])
        for prefix, roles in touching.items():
            if prefix in document:
                roles.update(role["Ref"] for role in resource["Properties"]["Roles"])
    jwks_role = one(
        template,
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": Match.object_like(
                {"Statement": [Match.object_like({"Principal": {"Service": "apigateway.amazonaws.com"}})]}
            )
        },
    )[0]
    assert touching["secretsmanager:"] == {role_of(template, "encoder"), role_of(template, "generator")}
    assert touching["s3:"] == {role_of(template, "generator"), jwks_role}


def test_the_api_gateway_role_may_read_jwks_json_only(template: Template, resources: dict[str, Any]) -> None:
    bucket = logical_id(template, "AWS::S3::Bucket")
    _, method = one(template, "AWS::ApiGateway::Method", {"HttpMethod": "GET"})
    role_id = method["Properties"]["Integration"]["Credentials"]["Fn::GetAtt"][0]
    assert statements_of(resources, role_id) == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/jwks.json"]]},
        }
    ]


def test_the_jwks_route_reads_s3_through_integration_responses(template: Template) -> None:
    bucket = logical_id(template, "AWS::S3::Bucket")
    _, method = one(template, "AWS::ApiGateway::Method", {"HttpMethod": "GET"})
    integration = method["Properties"]["Integration"]
    assert method["Properties"]["AuthorizationType"] == "NONE"
    assert (integration["Type"], integration["IntegrationHttpMethod"]) == ("AWS", "GET")
    uri = integration["Uri"]["Fn::Join"][1]
    assert uri[2:] == [":apigateway:", {"Ref": "AWS::Region"}, ":s3:path/", {"Ref": bucket}, "/jwks.json"]
    assert integration["RequestParameters"] == {
        "integration.request.header.If-None-Match": "method.request.header.If-None-Match"
    }
    cached = {
        "method.response.header.Cache-Control": "'public, max-age=300'",
        "method.response.header.ETag": "integration.response.header.ETag",
    }
    assert integration["IntegrationResponses"] == [
        {
            "StatusCode": "200",
            "ResponseParameters": {"method.response.header.Content-Type": "'application/json'", **cached},
        },
        {"StatusCode": "304", "SelectionPattern": "304", "ResponseParameters": cached},
        {
            "StatusCode": "502",
            "SelectionPattern": r"(4|5)\d{2}",
            "ResponseParameters": {"method.response.header.Content-Type": "'application/problem+json'"},
            "ResponseTemplates": {
                "application/json": problem(
                    502, "jwks_unavailable", "The JWKS could not be read from its bucket."
                ).body.decode()
            },
        },
    ]
    assert [response["StatusCode"] for response in method["Properties"]["MethodResponses"]] == [
        "200",
        "304",
        "502",
    ]
    errors = integration["IntegrationResponses"][2]["SelectionPattern"]
    assert [
        status for status in ("200", "304", "403", "404", "500", "503") if re.fullmatch(errors, status)
    ] == [
        "403",
        "404",
        "500",
        "503",
    ]


def test_encode_and_decode_are_lambda_proxies_and_encode_checks_a_bearer_key(template: Template) -> None:
    for path, role in (("encode", "encoder"), ("decode", "decoder")):
        resource_id = one(template, "AWS::ApiGateway::Resource", {"PathPart": path})[0]
        _, method = one(template, "AWS::ApiGateway::Method", {"ResourceId": {"Ref": resource_id}})
        integration = method["Properties"]["Integration"]
        assert (method["Properties"]["HttpMethod"], integration["Type"]) == ("POST", "AWS_PROXY")
        assert {"Fn::GetAtt": [function(template, role)[0], "Arn"]} in integration["Uri"]["Fn::Join"][1]
    # /encode is closed by the encoder's bearer check against the hashes in the secret
    # (tests/test_aws_encode.py); the stage throttles it harder than the rest.
    variables = function(template, "encoder")[1]["Properties"]["Environment"]["Variables"]
    assert variables["JWTSEAL_SECRET_ID"] == {"Ref": logical_id(template, "AWS::SecretsManager::Secret")}
    assert variables["JWTSEAL_SECRET_CACHE_TTL"] == "300"
    assert "JWTSEAL_API_KEYS" not in variables
    _, stage = one(template, "AWS::ApiGateway::Stage")
    assert stage["Properties"]["StageName"] == STAGE
    limits = {
        (setting["HttpMethod"], setting["ResourcePath"]): (
            setting["ThrottlingRateLimit"],
            setting["ThrottlingBurstLimit"],
        )
        for setting in stage["Properties"]["MethodSettings"]
    }
    assert limits == {("*", "/*"): (100, 200), ("POST", "/~1encode"): (20, 40)}


def test_the_issuer_is_the_stage_url_built_without_a_dependency_cycle(template: Template) -> None:
    api = logical_id(template, "AWS::ApiGateway::RestApi")
    issuer = {
        "Fn::Join": [
            "",
            [
                "https://",
                {"Ref": api},
                ".execute-api.",
                {"Ref": "AWS::Region"},
                ".",
                {"Ref": "AWS::URLSuffix"},
                "/v1",
            ],
        ]
    }
    for role in ("encoder", "decoder"):
        assert (
            function(template, role)[1]["Properties"]["Environment"]["Variables"]["JWTSEAL_ISSUER"] == issuer
        )


def test_the_encoder_waits_for_its_keys(template: Template) -> None:
    key_set = logical_id(template, "Custom::JwtsealKeySet")
    assert key_set in function(template, "encoder")[1]["DependsOn"]


def test_a_daily_schedule_maintains_the_keys(template: Template) -> None:
    _, rule = one(template, "AWS::Events::Rule")
    assert rule["Properties"]["ScheduleExpression"] == "rate(1 day)"
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [function(template, "generator")[0], "Arn"]}
    assert json.loads(target["Input"]) == {"jwtseal": "maintain"}


def test_api_gateways_own_answers_are_problem_json(template: Template) -> None:
    for response_type, status, code in (
        ("MISSING_AUTHENTICATION_TOKEN", 404, "not_found"),
        ("REQUEST_TOO_LARGE", 413, "payload_too_large"),
    ):
        _, response = one(template, "AWS::ApiGateway::GatewayResponse", {"ResponseType": response_type})
        properties = response["Properties"]
        assert properties["StatusCode"] == str(status)
        assert properties["ResponseParameters"] == {
            "gatewayresponse.header.Content-Type": "'application/problem+json'"
        }
        body = json.loads(properties["ResponseTemplates"]["application/json"])
        assert body["code"] == code
        assert (
            properties["ResponseTemplates"]["application/json"]
            == problem(status, code, body["detail"]).body.decode()
        )


def test_logs_are_kept_a_month(template: Template) -> None:
    groups = template.find_resources("AWS::Logs::LogGroup")
    assert len(groups) == 4
    assert {group["Properties"]["RetentionInDays"] for group in groups.values()} == {30}


def test_outputs_and_warnings(template: Template, synthesized: dict[str, Any]) -> None:
    outputs = set(template.to_json()["Outputs"])
    assert {"ApiUrl", "JwksUri", "SecretArn", "BucketName", "CurrentKid"} <= outputs
    assert len(outputs) == 6  # and the RestApi's own Endpoint output
    warnings = [str(warning) for warning in synthesized["warnings"]]
    assert any("do not deploy" in warning for warning in warnings)
    assert any("POST /encode refuses every request" in warning for warning in warnings)


def test_problem_json_is_the_librarys_problem() -> None:
    assert problem_json(404, "not_found", "x") == problem(404, "not_found", "x").body.decode()


@pytest.fixture
def small_app(tmp_path: Path) -> cdk.App:
    return cdk.App(outdir=str(tmp_path / "cdk.out"), context={"@aws-cdk/core:target-partitions": ["aws"]})


def test_without_retain_the_keys_go_with_the_stack(small_app: cdk.App) -> None:
    stack = cdk.Stack(small_app, "Destroying")
    KeyStorage(stack, "Keys", retain=False)
    template = Template.from_stack(stack)
    template.has_resource("AWS::SecretsManager::Secret", {"DeletionPolicy": "Delete"})
    template.has_resource("AWS::S3::Bucket", {"DeletionPolicy": "Delete"})
    template.resource_count_is("Custom::S3AutoDeleteObjects", 1)


def test_local_bundling_installs_lambda_wheels_then_copies_jwtseal(
    small_app: cdk.App, tmp_path: Path
) -> None:
    commands: list[list[str]] = []

    def fake_pip(command: list[str], check: bool) -> None:
        assert check
        commands.append(command)
        target = Path(command[command.index("--target") + 1])
        (target / "cryptography").mkdir(parents=True)

    stack = cdk.Stack(small_app, "Bundled")
    code = lambda_code(
        PROJECT_ROOT, bundle=True, bundler=LocalBundler(PROJECT_ROOT, run=fake_pip, python="python3")
    )
    lambda_.Function(
        stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_13, handler="jwtseal.aws.decode.handler", code=code
    )
    assembly = small_app.synth()
    (command,) = commands
    assert command[:4] == ["python3", "-m", "pip", "install"]
    for flag in ("--only-binary=:all:", "--no-compile", "--implementation", "cp", "--python-version", "3.13"):
        assert flag in command
    assert [command[i + 1] for i, arg in enumerate(command) if arg == "--platform"] == list(PLATFORMS)
    assert "cryptography>=44" in command
    (asset,) = Path(assembly.directory).glob("asset.*")
    assert (asset / "cryptography").is_dir()
    assert (asset / "jwtseal" / "aws" / "decode.py").read_bytes() == (
        PROJECT_ROOT / "src/jwtseal/aws/decode.py"
    ).read_bytes()
    assert not list(asset.rglob("__pycache__"))


def test_the_bundle_hash_follows_sources_and_dependencies(tmp_path: Path) -> None:
    (tmp_path / "src" / "jwtseal").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["cryptography>=44"]\n')
    (tmp_path / "src" / "jwtseal" / "__init__.py").write_text("")
    first = bundle_hash(tmp_path)
    (tmp_path / "src" / "jwtseal" / "__pycache__").mkdir()
    (tmp_path / "src" / "jwtseal" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    assert bundle_hash(tmp_path) == first
    (tmp_path / "src" / "jwtseal" / "__init__.py").write_text("x = 1\n")
    second = bundle_hash(tmp_path)
    assert second != first
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["cryptography>=45"]\n')
    assert bundle_hash(tmp_path) not in (first, second)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({}, StackConfig()),
        (
            {
                "jwtseal:keyVersion": 7,
                "jwtseal:apiKeyHashes": ["A" * 64],
                "jwtseal:bundle": "false",
                "jwtseal:retainKeys": False,
            },
            StackConfig("7", ("a" * 64,), False, False),
        ),
        (
            {"jwtseal:apiKeyHashes": f"{'a' * 64}, {'b' * 64},", "jwtseal:bundle": "TRUE"},
            StackConfig(api_key_hashes=("a" * 64, "b" * 64)),
        ),
        (
            {"jwtseal:signer": "aws-kms", "jwtseal:kmsKeyRing": "tokens-prod", "jwtseal:kmsDeletionDays": 7},
            StackConfig(signer="aws-kms", kms_key_ring="tokens-prod", kms_deletion_days=7),
        ),
    ],
)
def test_the_stack_config_reads_the_context(context: dict[str, Any], expected: StackConfig) -> None:
    assert StackConfig.from_context(cdk.App(context=context).node) == expected


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"jwtseal:apiKeyHashes": "my-plain-api-key"}, "not a SHA-256"),
        ({"jwtseal:bundle": "maybe"}, "jwtseal:bundle"),
        ({"jwtseal:signer": "hsm"}, "jwtseal:signer"),
        ({"jwtseal:kmsKeyRing": "a ring"}, "jwtseal:kmsKeyRing"),
        ({"jwtseal:kmsDeletionDays": 6}, "jwtseal:kmsDeletionDays"),
    ],
)
def test_bad_context_values_are_refused_by_name(context: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        StackConfig.from_context(cdk.App(context=context).node)


def test_synth_did_not_bundle_the_unbundled_asset_is_the_bare_sources(synthesized: dict[str, Any]) -> None:
    code = [name for name in synthesized["assets"] if (synthesized["directory"] / name / "jwtseal").is_dir()]
    assert len(code) == 1
    asset = synthesized["directory"] / code[0]
    assert sorted(path.name for path in asset.iterdir()) == [
        "jwtseal"
    ]  # no dependencies: nothing was installed
    assert not list(asset.rglob("__pycache__"))


KMS_RING = "jwtseal-test"
OWN_KEYS = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":kms:", {"Ref": "AWS::Region"}, ":",
                              {"Ref": "AWS::AccountId"}, ":key/*"]]}  # fmt: skip


@pytest.fixture(scope="module")
def kms_resources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, dict[str, Any]]:
    """The stack with ``-c jwtseal:signer=aws-kms``: every key an asymmetric KMS key."""
    made = synthesize(
        tmp_path_factory,
        **{"jwtseal:signer": "aws-kms", "jwtseal:kmsKeyRing": KMS_RING, "jwtseal:kmsDeletionDays": 7},
    )
    return Template.from_json(made["template"]), made["template"]["Resources"]


def policies_of(resources: dict[str, Any], role_id: str) -> str:
    return json.dumps(statements_of(resources, role_id))


def test_with_kms_the_encoder_may_sign_with_jwtseal_keys_only_and_reads_no_secret(
    kms_resources: tuple[Template, dict[str, Any]],
) -> None:
    template, resources = kms_resources
    bucket = logical_id(template, "AWS::S3::Bucket")
    statements = statements_of(resources, role_of(template, "encoder"))
    assert statements[1:] == [
        {
            "Action": ["kms:Sign", "kms:GetPublicKey", "kms:DescribeKey"],
            "Condition": {
                "StringEquals": {
                    "aws:ResourceTag/jwtseal:ring": KMS_RING,
                    "aws:ResourceTag/jwtseal:managed": "true",
                }
            },
            "Effect": "Allow",
            "Resource": OWN_KEYS,
        },
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/keyring.json"]]},
        },
    ]
    assert statements[0]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert "secretsmanager" not in policies_of(resources, role_of(template, "encoder"))
    variables = function(template, "encoder")[1]["Properties"]["Environment"]["Variables"]
    assert "JWTSEAL_SECRET_ID" not in variables
    assert variables["JWTSEAL_SIGNER"] == "aws-kms"
    assert variables["JWTSEAL_KMS_KEY_RING"] == KMS_RING
    assert variables["JWTSEAL_BUCKET"] == {"Ref": bucket}


def test_with_kms_only_the_rotation_function_may_create_tag_and_delete_keys(
    kms_resources: tuple[Template, dict[str, Any]],
) -> None:
    template, resources = kms_resources
    holders: dict[str, set[str]] = {
        "kms:CreateKey": set(),
        "kms:TagResource": set(),
        "kms:ScheduleKeyDeletion": set(),
    }
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Policy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                for action in set(actions) & set(holders):
                    holders[action].update(role["Ref"] for role in resource["Properties"]["Roles"])
    generator = role_of(template, "generator")
    assert holders == {action: {generator} for action in holders}
    statements = statements_of(resources, generator)
    create = next(s for s in statements if "kms:CreateKey" in s["Action"])
    assert create["Condition"] == {
        "StringEquals": {"aws:RequestTag/jwtseal:managed": "true", "aws:RequestTag/jwtseal:ring": KMS_RING}
    }
    delete = next(s for s in statements if "kms:ScheduleKeyDeletion" in s["Action"])
    assert delete["Resource"] == OWN_KEYS
    assert delete["Condition"] == {"StringEquals": {"aws:ResourceTag/jwtseal:ring": KMS_RING}}
    variables = function(template, "generator")[1]["Properties"]["Environment"]["Variables"]
    assert (variables["JWTSEAL_SIGNER"], variables["JWTSEAL_KMS_DELETION_DAYS"]) == ("aws-kms", "7")


def test_with_kms_every_grant_on_keys_is_held_to_jwtseal_tags(
    kms_resources: tuple[Template, dict[str, Any]],
) -> None:
    _, resources = kms_resources
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if not any(action.startswith("kms:") for action in actions):
                continue
            if actions in (["kms:ListKeys"], ["kms:ListResourceTags"]):  # names and tags, nothing private
                continue
            assert "jwtseal:ring" in json.dumps(statement["Condition"]), statement


def test_with_kms_the_decoder_still_reads_nothing_private(
    kms_resources: tuple[Template, dict[str, Any]],
) -> None:
    template, resources = kms_resources
    role_id = role_of(template, "decoder")
    assert actions_of(resources, role_id) == [("logs:CreateLogStream", "logs:PutLogEvents")]
    variables = function(template, "decoder")[1]["Properties"]["Environment"]["Variables"]
    assert set(variables) == {"JWTSEAL_ISSUER", "JWTSEAL_JWKS_MAX_AGE"}
