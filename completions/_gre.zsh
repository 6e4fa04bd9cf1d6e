#compdef gre

_gre_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _GRE_COMPLETE=complete_zsh gre)
}

compdef _gre_completion gre
