#!/usr/bin/env bash
# Posts a grading run's comment.md as the one autograder comment on its pull request.
#
#   post-comment.sh REPORTS_DIR        (env: GITHUB_EVENT_PATH of a workflow_run event, REPO, GH_TOKEN)
#
# Only GitHub is trusted, never the artifact: the pull request comes from the event (or, for forks,
# from the API by the run's head commit and repository); comment.md is read as size-limited text;
# only the workflow bot's own comment is updated. A run whose pull request changes .github/ ran a
# workflow the pull request wrote, so its result is not posted.
set -euo pipefail
shopt -s inherit_errexit
reports=$1
marker='<!-- llm-autograder -->'
bot='github-actions[bot]'
limit=65536  # GitHub's limit on a comment, in characters

event() { jq -r "$1 // empty" "$GITHUB_EVENT_PATH"; }
head_sha=$(event .workflow_run.head_sha)
head_repo=$(event .workflow_run.head_repository.full_name)

pull_request_number() {  # from the event; for forks (where the event lists none) the one open PR at this head
  local number
  number=$(event '.workflow_run.pull_requests[0].number')
  if [ -z "$number" ]; then
    number=$(gh api --paginate "repos/$REPO/pulls?state=open&per_page=100" |
      jq -rn --arg sha "$head_sha" --arg repo "$head_repo" \
        '[inputs[] | select(.head.sha == $sha and .head.repo.full_name == $repo) | .number] | if length == 1 then .[0] else empty end')
  fi
  [[ "$number" =~ ^[0-9]+$ ]] || { echo "no single pull request has head $head_sha; nothing to post" >&2; return 1; }
  echo "$number"
}

touches_ci() {  # "true" when the pull request's files (or more than the API lists) include .github/
  if [ "$(jq '.changed_files > 3000' <<<"$1")" = true ]; then echo true; return; fi
  gh api --paginate "repos/$REPO/pulls/$2/files?per_page=100" |
    jq -rn '[inputs[] | .filename, (.previous_filename // empty)] | any(startswith(".github/"))'
}

comment_body() {  # the request body: the artifact's comment.md, or a notice when $1 (touches_ci) is true
  if [ "$1" = true ]; then
    jq -n --arg m "$marker" '{body: ($m + "\n## Autograder\n\nThis pull request changes `.github/`, so its grading run used a workflow the pull request wrote; its result is not posted. The course staff will grade it.\n")}'
  elif [ -f "$reports/comment.md" ] && [ ! -L "$reports/comment.md" ]; then
    head -c $((4 * limit)) "$reports/comment.md" |
      jq -Rs --arg m "$marker" --argjson n "$limit" '{body: (if startswith($m) then . else $m + "\n" + . end)[:$n]}'
  else
    echo "the artifact has no comment.md" >&2; return 1
  fi
}

bot_comment_id() {  # the first comment on the pull request that the workflow bot wrote with the marker
  gh api --paginate "repos/$REPO/issues/$1/comments?per_page=100" |
    jq -rn --arg m "$marker" --arg bot "$bot" \
      '[inputs[] | select(.user.login == $bot and (.body // "" | startswith($m))) | .id] | .[0] // empty'
}

pr=$(pull_request_number)
pull=$(gh api "repos/$REPO/pulls/$pr")
if [ "$(jq -r .head.sha <<<"$pull")" != "$head_sha" ]; then
  echo "pull request #$pr has moved on from $head_sha; its newer run will post" >&2
  exit 0
fi
ci_changed=$(touches_ci "$pull" "$pr")
payload=$(mktemp)
comment_body "$ci_changed" > "$payload"
id=$(bot_comment_id "$pr")
if [ -n "$id" ]; then
  gh api -X PATCH "repos/$REPO/issues/comments/$id" --input "$payload" > /dev/null
else
  gh api -X POST "repos/$REPO/issues/$pr/comments" --input "$payload" > /dev/null
fi
echo "posted the grade on pull request #$pr"
