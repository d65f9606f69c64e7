"""Signed statements: who approved what, proved with their SSH signing key instead of a name typed in a form.

``statement`` is what is signed (a few ``key: value`` lines naming the run, the step, the gate's opening, the
plan's digest, the decision and the comment), ``sshsig`` reads a signature's key and namespace, ``allowed_signers``
says whose key is whose (git's allowed-signers format), ``ssh_keygen`` signs and verifies with OpenSSH's own
``ssh-keygen -Y``, so that an auditor can check the same bytes with the same tool, without itpm.
"""
